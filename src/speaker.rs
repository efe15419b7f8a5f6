//! The speaker: single owner of the desired routes.
