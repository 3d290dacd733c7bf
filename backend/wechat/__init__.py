"""WeChat's mini-program APIs through wechatpy, at the configured base URL (WeChat or sandbox)."""
