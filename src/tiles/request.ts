// Bodies of /tiles/tile and /tiles/tile-data → a known tile and period (RELAY.md §9).
import { invalidPayload } from '../errors.js';
import { isPeriod, PERIODS, tileById, TILES, type Period, type Tile } from './definitions.js';

const MAX_ECHO = 100;

function fields(body: string, wanted: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw invalidPayload('The body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidPayload(`The body must be an object with ${wanted}.`);
  }
  return parsed as Record<string, unknown>;
}

function text(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw invalidPayload(`The body lacks a non-empty string "${field}".`);
  return value;
}

const echo = (value: string): string => JSON.stringify(value.slice(0, MAX_ECHO));

function tileOf(body: Record<string, unknown>): Tile {
  const id = text(body, 'tile_id');
  const tile = tileById(id);
  if (tile === undefined) throw invalidPayload(`Unknown tile_id ${echo(id)}; this module offers ${TILES.map((t) => t.id).join(', ')}.`);
  return tile;
}

/** `{"tile_id"}` of /tiles/tile. */
export const parseTileRequest = (body: string): Tile => tileOf(fields(body, '"tile_id"'));

/** `{"tile_id", "period"}` of /tiles/tile-data. */
export function parseTileDataRequest(body: string): { tile: Tile; period: Period } {
  const object = fields(body, '"tile_id" and "period"');
  const tile = tileOf(object);
  const period = text(object, 'period');
  if (!isPeriod(period)) throw invalidPayload(`Unknown period ${echo(period)}; the periods are ${PERIODS.join(', ')}.`);
  return { tile, period };
}
