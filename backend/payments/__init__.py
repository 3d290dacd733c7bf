"""The WeChat Pay v2 adapter (wechatpy, MD5 signatures end to end)."""
