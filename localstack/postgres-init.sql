-- One database per service, as on AWS (two Aurora clusters); the migrator functions create the
-- tables when deploy.ts invokes them.
CREATE DATABASE users;
CREATE DATABASE wallet;
