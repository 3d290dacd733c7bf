"""捐赠证书: a paid donation's certificate, a PNG its donor saves and shares, with a number
anyone can check on the public verification page (`/p/certificates/<number>`)."""
