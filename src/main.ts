import { start } from './server.js';

// `npm start`: configuration → database → preparation → app → listen (see server.ts).
await start();
