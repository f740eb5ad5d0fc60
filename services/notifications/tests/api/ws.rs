//! The live WebSocket.
