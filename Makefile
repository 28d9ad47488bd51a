# `sam build` runs this target (template.yaml: Metadata BuildMethod: makefile) in
# a copy of the project: `npm ci` compiles (the prepare script), then only the
# compiled code and the production dependencies go into the function's package.
build-RelayFunction:
	npm ci
	cp -R dist package.json package-lock.json "$(ARTIFACTS_DIR)"
	cd "$(ARTIFACTS_DIR)" && npm ci --omit=dev --ignore-scripts
