import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { precompress } from './precompress.js';

// `npm run build` builds the console into dist/console, which Portier serves at /console
// (src/http/console.ts). Everything is bundled into hashed files under assets/: no inline
// script or style (the Content-Security-Policy forbids them), nothing from a CDN. Each text
// file gets a .gz and a .br beside it (precompress.ts), which Portier sends to browsers that take them.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [react(), precompress()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
