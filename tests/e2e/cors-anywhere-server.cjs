// cors-anywhere (the most used CORS proxy) for the side-by-side proxy benchmark.
// Usage: node cors-anywhere-server.cjs PORT
const cors = require('cors-anywhere');
const port = Number(process.argv[2]);
cors.createServer({ originWhitelist: [], requireHeader: [], removeHeaders: ['cookie', 'cookie2'] })
  .listen(port, '127.0.0.1', () => console.log(`cors-anywhere on 127.0.0.1:${port}`));
