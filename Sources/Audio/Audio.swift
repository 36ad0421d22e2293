// Audio module.
