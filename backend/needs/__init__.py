"""Needs (小微项目 / 社区需求): what residents donate to, with their budgets and updates."""
