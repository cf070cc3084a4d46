export { createHttpsServer } from './https_server.js';
export type { HttpsServer, HttpsServerOptions } from './https_server.js';
export { registerAdminRoutes } from './admin_routes.js';
export type { AdminOperations } from './admin_routes.js';
export { problemFor, toGatehouseError } from './problem.js';
export type { Problem } from './problem.js';
