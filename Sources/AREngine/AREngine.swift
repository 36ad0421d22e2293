// AREngine module.
