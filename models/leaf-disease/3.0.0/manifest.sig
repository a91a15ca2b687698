{
  "format": 1,
  "algorithm": "ed25519",
  "key_id": "ccb269059f5d80c6",
  "signature": "4eZ1uZmevMLjfJ4v+vhsaUC/IkUKcVH1HiNw3EI/KpzGNzDITAMbZEyoMR8j74iA+QHybb7uoMs8L1llMTl2DA=="
}
