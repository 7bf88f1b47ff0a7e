#!/usr/bin/env node
import { createService } from './server.js';

const port = Number(process.env.PORT ?? 8080);
createService().listen(port, () => {
  console.log(`hello-service listening on :${port}`);
});
