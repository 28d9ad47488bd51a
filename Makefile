# `sam build` runs this target (template.yaml: Metadata BuildMethod: makefile) in
# a copy of the project: `npm ci` builds (the prepare script), then the function's
# package is the Lambda bundle alone (scripts/bundle.mjs: no node_modules needed)
# and a package.json that tells Node it is an ES module.
build-RelayFunction:
	npm ci
	mkdir -p "$(ARTIFACTS_DIR)/dist"
	cp dist/lambda.js "$(ARTIFACTS_DIR)/dist/"
	printf '{ "type": "module" }\n' > "$(ARTIFACTS_DIR)/package.json"

# The alerts sync's function (template.yaml SyncFunction): its bundle alone, likewise.
build-SyncFunction:
	npm ci
	mkdir -p "$(ARTIFACTS_DIR)/dist"
	cp dist/sync-lambda.js "$(ARTIFACTS_DIR)/dist/"
	printf '{ "type": "module" }\n' > "$(ARTIFACTS_DIR)/package.json"
