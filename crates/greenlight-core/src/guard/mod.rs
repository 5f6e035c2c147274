//! Environment guard: placeholder, being written.
