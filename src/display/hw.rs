//! Hardware display drivers (in progress).
