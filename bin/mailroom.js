#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx (no build step to forget).
// Blob writes fsync on libuv's thread pool; its default of 4 threads caps how many
// messages can be made durable at once, so mailroom asks for more (before first use).
process.env.UV_THREADPOOL_SIZE ??= '16';
const { register } = await import('tsx/esm/api');
register();
await import('../src/cli/main.ts');
