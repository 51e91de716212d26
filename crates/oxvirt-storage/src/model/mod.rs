//! The pool and volume XML models.
