import { serve } from './serve.js';

// `npm start`: configuration → database → migrations → server → listen.
await serve();
