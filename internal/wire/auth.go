package wire

// AuthMethod is the MQTT 5 authentication method of mfd's broker: a client
// re-authenticates in place (an AUTH packet) with a fresh token as its
// authentication data.
const AuthMethod = "mfd-jwt"
