{
  "format": 1,
  "algorithm": "ed25519",
  "key_id": "ccb269059f5d80c6",
  "signature": "YaKsJSXgALxY4MBAvfHUVArgwAvB66JwwOejvZeyTKb4Ob15rM2zGBk0BSXhF2vB/s3DW/Vi07HRWSg9BeXgAw=="
}
