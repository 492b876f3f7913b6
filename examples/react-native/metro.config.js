// The client package is this repository's web/ directory (`file:../../web`), outside the
// app: Metro must watch it to follow the link.
const path = require("node:path");
const { getDefaultConfig } = require("expo/metro-config");

const config = getDefaultConfig(__dirname);
config.watchFolders = [path.resolve(__dirname, "../../web")];
module.exports = config;
