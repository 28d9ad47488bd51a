// The worked example (RELAY.md §6), copied into the project as test fixtures.
import { readFileSync } from 'node:fs';

export const fixture = (name: string): any =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
