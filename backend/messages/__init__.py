"""Subscribe messages (订阅消息) to donors: the consents they give and the messages sent."""
