import { main } from '../run-node.js';

await main('client', process.argv.slice(2));
