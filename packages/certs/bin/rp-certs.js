#!/usr/bin/env node
import "../dist/bin/rp-certs.js";
