#!/usr/bin/env node
// Signals are held from the first moment (early-signals), then the CLI loads.
import "../dist/early-signals.js";
await import("../dist/bin/rp-server.js");
