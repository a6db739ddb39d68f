"""spikeforge.model"""
