/**
 * The paths writepath's plugin serves, relative to its prefix. Adapters that share a host's
 * router (Express) read them to pass every other request on without opening the database.
 */
export const ROUTE_PATHS = { batch: '/api/data', health: '/health', ready: '/ready' } as const;

/** The paths behind `admin.token`; they exist only when it is set. */
export const ADMIN_PATHS = {
  metrics: '/metrics',
  dashboard: '/dashboard',
  rejections: '/admin/rejections',
  clients: '/admin/clients',
  stats: '/admin/stats',
} as const;
