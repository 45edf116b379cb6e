//! Compact pose frames for robots: postcard + COBS + CRC, `no_std`, heapless.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
