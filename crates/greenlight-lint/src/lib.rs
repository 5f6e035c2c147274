//! Linter for GitHub Actions workflows, composite actions and shell scripts.
