/**
 * The nats-server version Natrium reports in INFO. Clients gate protocol features on this
 * semver (e.g. headers need 2.2+), and Natrium speaks the protocol of this release.
 */
export const NATS_PROTOCOL_VERSION = '2.9.10';
export const NATRIUM_VERSION = '0.1.0';
