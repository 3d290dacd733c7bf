"""Daily reconciliation (对账) of WeChat Pay's bill against the books."""
