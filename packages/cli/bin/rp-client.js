#!/usr/bin/env node
import "../dist/bin/rp-client.js";
