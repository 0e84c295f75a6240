"""GSLTS sub-server: the tick hub that owns the one upstream Kiwoom WebSocket."""
