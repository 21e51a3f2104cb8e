#!/usr/bin/env node
import "../dist/bin/rp-server.js";
