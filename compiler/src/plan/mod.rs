//! Memory planning (being written).
