// The dashboard tiles this module offers and the periods they cover (RELAY.md §9).

export const PERIODS = ['last_24_hours', 'last_7_days', 'last_30_days', 'last_90_days'] as const;
export type Period = (typeof PERIODS)[number];
export const DEFAULT_PERIOD: Period = 'last_7_days';

export type TileType = 'metric_group' | 'horizontal_bar_chart' | 'vertical_bar_chart' | 'markdown';

export type TileId =
  | 'spycloud-exposure' | 'spycloud-severity' | 'spycloud-timeline' | 'spycloud-top-breaches' | 'spycloud-top-identities';

export interface Tile {
  id: TileId;
  type: TileType;
  title: string;
  description: string;
  short_description: string;
  tags: string[];
  periods: Period[];
  default_period: Period;
}

const tile = (id: TileId, type: TileType, title: string, shortDescription: string, description: string): Tile => ({
  id,
  type,
  title,
  description,
  short_description: shortDescription,
  tags: ['SpyCloud'],
  periods: [...PERIODS],
  default_period: DEFAULT_PERIOD,
});

export const TILES: readonly Tile[] = [
  tile('spycloud-exposure', 'metric_group', 'SpyCloud exposure',
    'Exposed records, identities, infected machines, stolen session cookies and plaintext passwords',
    'What SpyCloud published in the period about your watchlist (your domains and emails): breach and infostealer records, '
      + 'the distinct identities they expose, the infected machines they came from, stolen session cookies, and plaintext passwords.'),
  tile('spycloud-severity', 'horizontal_bar_chart', 'SpyCloud exposure by severity',
    'Watchlist records of the period by severity',
    'Watchlist records SpyCloud published in the period, by severity: Critical (stolen session cookies), High (infostealer '
      + 'and plaintext credentials), Medium and Low.'),
  tile('spycloud-timeline', 'vertical_bar_chart', 'SpyCloud exposure over time',
    'Watchlist records per day (per hour for 24 hours), by severity',
    'Watchlist records SpyCloud published in the period, per UTC day (per UTC hour for the last 24 hours), stacked by severity.'),
  tile('spycloud-top-breaches', 'markdown', 'Top SpyCloud breach sources',
    'The 10 breach sources with the most watchlist records in the period',
    'The 10 breaches, infostealer logs and combolists that exposed the most watchlist records in the period, '
      + 'with links to their SpyCloud portal pages.'),
  tile('spycloud-top-identities', 'markdown', 'Most exposed identities',
    'The 10 identities with the most watchlist records in the period: reset these first',
    'The 10 emails (or usernames) with the most watchlist records in the period, their worst severity and their newest exposure: '
      + 'the accounts to reset first.'),
];

export const tileById = (id: string): Tile | undefined => TILES.find((t) => t.id === id);

export const isPeriod = (value: string): value is Period => (PERIODS as readonly string[]).includes(value);
