{
  "format": 1,
  "algorithm": "ed25519",
  "key_id": "2701e06ea555877a",
  "signature": "QeCkP7cqPC+Ge3W4o5bqZVpkalpJdS6fcqJ23d6Y2KaemAArsiyXCvzjh8Jgyz2Nw2AR6nsNp3ihuMxfuoAoAA=="
}
