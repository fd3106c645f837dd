//! smol: a task per connection (to be written).
