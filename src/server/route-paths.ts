/**
 * The paths writepath's plugin serves, relative to its prefix. Adapters that share a host's
 * router (Express) read them to pass every other request on without opening the database.
 */
export const ROUTE_PATHS = { batch: '/api/data', health: '/health', ready: '/ready' } as const;
