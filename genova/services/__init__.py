"""Domain services: plain functions with keyword-only arguments and no Flask imports."""
