//! The HTTP error model and request helpers of the two HTTP functions.
