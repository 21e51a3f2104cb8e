import { main } from '../run-node.js';

await main('server', process.argv.slice(2));
