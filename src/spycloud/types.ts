// What SpyCloud answers, as far as the relay relies on it. SpyCloud's bodies are
// open-ended, so every field is read defensively by the CTIM mapping.

/** One breach record: SpyCloud's fields in SpyCloud's order. */
export type BreachRecord = Readonly<Record<string, unknown>>;

/** Global breach metadata (`/breach/catalog/{id}`), shared by all tenants. */
export type Catalog = Readonly<Record<string, unknown>>;

export type CatalogLookup =
  | { readonly status: 'found'; readonly catalog: Catalog }
  | { readonly status: 'missing' }
  | { readonly status: 'failed'; readonly reason: string };

/** One page of any SpyCloud list answer. */
export interface Page {
  cursor: string;
  results: readonly Record<string, unknown>[];
}

/** Per relay request: its deadline and what it cost upstream (for the request log). */
export interface RequestScope {
  /** When the relay request arrived (ms): "the time of the request" of RELAY.md §6. */
  readonly arrivedAt: number;
  readonly deadline: number;
  readonly budgetMs: number;
  upstreamCalls: number;
  /** HTTP status of the last SpyCloud answer that was not a success, for the request log. */
  upstreamStatus?: number;
}
