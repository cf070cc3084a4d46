#!/usr/bin/env node
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(`gatehouse: ${(err as Error).message}`);
    process.exit(1);
  });
