//! Bridges, addresses and taps over rtnetlink.
