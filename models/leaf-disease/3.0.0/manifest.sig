{
  "format": 1,
  "algorithm": "ed25519",
  "key_id": "ccb269059f5d80c6",
  "signature": "UH/sMJET9hfdmcof9R1Nt6CoKvixBiConzLQKrA2uUv4ftf3wpBFEtQ9ckgd/2sT+pQ8gau50EDMpib64sfiCA=="
}
