"""Tests of the WeChat sandbox, driven over HTTP with the real wechatpy clients."""
