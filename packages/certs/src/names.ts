/**
 * The one rule for what a restpipe identity may be called (SPEC §1: `NAME` of
 * `rp-certs`). Names become file names and certificate names, and a client's name
 * is what a server's gateway routes by (`/client/NAME/...`), so the gateway checks
 * a URL's NAME with this same pattern. This module imports nothing: the gateway
 * takes it as `@restpipe/certs/names` and never loads node-forge.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
