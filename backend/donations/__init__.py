"""Donations (捐赠): payment orders through WeChat Pay, exactly once."""
